//! The README runs as written: its walk through the API, against the real
//! binary on a fresh database, and its links, all inside the repository.
//!
//! The convention (README.md, *A walk through the API*): every fenced block
//! whose info string is `sh walk` belongs to the walk. The blocks run in
//! their order in the file, in one `bash` session under `set -euo pipefail`,
//! so a variable one block sets reaches the next, as in a reader's terminal.
//! The one block fenced as `sh walk-server` is the reader's server: a plain
//! `NAME=value … cargo run --release -- serve`. This test does not run it; it
//! starts the binary cargo built in its place, with the variables that block
//! sets, on a fresh database (SQLite or PostgreSQL) and a free port. The
//! session gets:
//!
//! - `ROSTER`, the server's base URL (the README's default is
//!   `http://127.0.0.1:8080`, the server's default address);
//! - `ROSTER_DATABASE_URL`, the server's database, so that a block's
//!   `cargo run --release -- keys rotate` acts on it, as the reader's acts on
//!   the `roster.db` its server made;
//! - a shell function `cargo`, which runs `cargo run --release -- ARGS` as the
//!   built binary with `ARGS` and refuses any other cargo command.
//!
//! It runs in an empty temporary directory, without the user's curl
//! configuration and past any proxy. The checks are the blocks' own
//! (`curl -f` fails on an HTTP error, `jq -e 'select(…)'` unless a response is
//! as shown, `grep -x` unless a status is): the test asserts that the session
//! exits 0 having run every block to its end, and otherwise names the block,
//! with what the session printed and the server's log.
//!
//! The walk needs `bash`, `curl` and `jq`; without one the test fails naming
//! it (`.ci/run` installs them when missing).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Database, Engine};

crate::on_both_engines!(the_readme_walk_runs_as_written);

/// The repository's root.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// How long the whole walk may take before it is stopped and reported.
const WALK_TIMEOUT: Duration = Duration::from_secs(300);

/// A fenced code block of a Markdown file.
#[derive(Debug, Clone)]
struct Block {
    /// The info string after the opening fence (`sh walk`).
    info: String,
    /// The file's line number of the block's first line.
    line: usize,
    text: String,
}

/// The fenced blocks of `markdown`, in order.
fn fenced_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        let fence = line.strip_prefix("```");
        match (open.as_mut(), fence) {
            (None, Some(info)) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    line: index + 2,
                    text: String::new(),
                })
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => blocks.extend(open.take()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a fenced block is never closed: {open:?}");
    blocks
}

/// The README's walk: the server's variables and the blocks to run.
struct Walk {
    server_env: Vec<(String, String)>,
    blocks: Vec<Block>,
}

fn the_walk(readme: &str) -> Walk {
    let blocks = fenced_blocks(readme);
    let servers: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.info == "sh walk-server")
        .collect();
    let [server] = servers.as_slice() else {
        panic!(
            "README.md needs exactly one block fenced as `sh walk-server`, found {}",
            servers.len()
        );
    };
    let walk: Vec<Block> = blocks
        .iter()
        .filter(|b| b.info == "sh walk")
        .cloned()
        .collect();
    assert!(
        !walk.is_empty(),
        "README.md has no block fenced as `sh walk`"
    );
    assert!(
        walk.iter().all(|b| b.line > server.line),
        "README.md: the `sh walk-server` block (line {}) must come before every `sh walk` block",
        server.line
    );
    Walk {
        server_env: server_variables(server),
        blocks: walk,
    }
}

/// The variables of the server block, which must read
/// `NAME=value … cargo run --release -- serve` on one line.
fn server_variables(block: &Block) -> Vec<(String, String)> {
    let commands: Vec<&str> = block
        .text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let shape = "`NAME=value … cargo run --release -- serve` on one line, values unquoted";
    let [command] = commands.as_slice() else {
        panic!(
            "README.md line {}: the `sh walk-server` block must be {shape}",
            block.line
        );
    };
    let words: Vec<&str> = command.split_whitespace().collect();
    let assignments = words.iter().take_while(|w| w.contains('=')).count();
    assert_eq!(
        words[assignments..].join(" "),
        "cargo run --release -- serve",
        "README.md line {}: the `sh walk-server` block must be {shape}",
        block.line
    );
    words[..assignments]
        .iter()
        .map(|word| {
            let (name, value) = word.split_once('=').unwrap();
            assert!(
                !value.contains(['"', '\'', '$', '`', '\\']),
                "README.md line {}: the `sh walk-server` block must be {shape}",
                block.line
            );
            (name.to_string(), value.to_string())
        })
        .collect()
}

/// Fails, naming the tool, unless each tool the walk uses runs.
fn require_tools() {
    for (tool, how) in [
        ("bash", "`.ci/run` is itself a bash script"),
        (
            "curl",
            "`.ci/run` installs it with apt-get when it is missing",
        ),
        (
            "jq",
            "`.ci/run` installs it with apt-get when it is missing",
        ),
    ] {
        let runs = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            runs,
            "the README walk needs `{tool}`, which is not installed (or not on PATH): \
             install it, e.g. `apt-get install {tool}` ({how})"
        );
    }
}

/// `roster serve` as a child process; killed when dropped.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary with `env` on `database_url` and a free port, and
    /// waits until it serves.
    fn start(env: &[(String, String)], database_url: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("ROSTER_ADDR", "127.0.0.1:0")
            .env("ROSTER_DATABASE_URL", database_url)
            .env("ROSTER_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roster serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (lines_tx, lines_rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let (log, lines_tx) = (log.clone(), lines_tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line.clone());
                    let _ = lines_tx.send(line);
                }
            });
        }
        drop(lines_tx);
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = lines_rx.recv_timeout(left) else {
                let _ = child.kill();
                panic!(
                    "roster serve did not start serving; its output:\n{}",
                    log.lock().unwrap().join("\n")
                );
            };
            let entry: Value = serde_json::from_str(&line).unwrap_or_default();
            if entry["message"] == "roster is serving" {
                break entry["addr"].as_str().expect("the address").to_string();
            }
        };
        Server {
            child,
            base: format!("http://{addr}"),
            log,
        }
    }

    /// The last lines the server wrote.
    fn log_tail(&self, lines: usize) -> String {
        let log = self.log.lock().unwrap();
        log[log.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The session's start: strict mode, one output stream, and the reader's
/// `cargo run --release -- …` as the built binary.
const PRELUDE: &str = r#"set -euo pipefail
exec 2>&1
cargo() {
    if [ "$#" -ge 3 ] && [ "$1" = run ] && [ "$2" = --release ] && [ "$3" = -- ]; then
        shift 3
        "$ROSTER_BIN" "$@"
    else
        echo "the README walk runs only 'cargo run --release -- ...', not: cargo $*"
        return 1
    fi
}
"#;

fn started(block: &Block) -> String {
    format!("--- README.md line {}", block.line)
}

fn finished(block: &Block) -> String {
    format!("+++ README.md line {}: done", block.line)
}

/// Runs the walk's blocks in one bash session against `server`: what it
/// printed, or a report of what failed.
fn run_blocks(walk: &Walk, server: &Server, database_url: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut script = PRELUDE.to_string();
    for block in &walk.blocks {
        script.push_str(&format!("echo '{}'\n", started(block)));
        script.push_str(&block.text);
        script.push_str(&format!("echo '{}'\n", finished(block)));
    }
    let script_path = dir.path().join("walk.sh");
    std::fs::write(&script_path, script).expect("write the walk");
    let mut bash = Command::new("bash")
        .arg(&script_path)
        .current_dir(dir.path())
        .env_remove("BASH_ENV")
        .env("ROSTER", &server.base)
        .env("ROSTER_DATABASE_URL", database_url)
        .env("ROSTER_BIN", env!("CARGO_BIN_EXE_roster"))
        .env("CURL_HOME", dir.path())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bash");
    let mut stdout = bash.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut output = String::new();
        let _ = stdout.read_to_string(&mut output);
        output
    });
    let deadline = Instant::now() + WALK_TIMEOUT;
    let status = loop {
        if let Some(status) = bash.try_wait().expect("wait for bash") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = bash.kill();
            let _ = bash.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut errors = String::new();
    if let Some(mut stderr) = bash.stderr.take() {
        let _ = stderr.read_to_string(&mut errors);
    }
    let output = reader.join().unwrap();
    let unfinished = walk
        .blocks
        .iter()
        .find(|block| !output.lines().any(|l| l == finished(block)));
    match (status, unfinished) {
        (Some(status), None) if status.success() => Ok(()),
        (status, block) => {
            let what = match status {
                None => format!("did not end within {WALK_TIMEOUT:?}"),
                Some(status) => format!("ended with {status}"),
            };
            let which = match block {
                Some(block) if output.lines().any(|l| l == started(block)) => {
                    format!("the block at README.md line {} failed", block.line)
                }
                Some(block) => format!("the block at README.md line {} never ran", block.line),
                None => "every block finished".to_string(),
            };
            Err(format!(
                "the README walk {what}: {which}.\n\n--- what the walk printed:\n{output}{errors}\n\
                 --- the server's last log lines:\n{}",
                server.log_tail(40)
            ))
        }
    }
}

/// The README's walk through the API exits 0, every block to its end,
/// against a fresh server.
async fn the_readme_walk_runs_as_written(engine: Engine) {
    require_tools();
    let readme = std::fs::read_to_string(repository().join("README.md")).expect("README.md");
    let walk = the_walk(&readme);
    let (database_url, database) = Database::create(engine).await;
    let outcome = tokio::task::spawn_blocking(move || {
        let server = Server::start(&walk.server_env, &database_url);
        run_blocks(&walk, &server, &database_url)
        // The server stops here, before its database is dropped.
    })
    .await
    .expect("the walk");
    drop(database);
    if let Err(report) = outcome {
        panic!("{report}");
    }
}

/// Where `text` (one line, outside code) links to: Markdown links' targets,
/// autolinks and bare URLs.
fn link_targets(text: &str) -> Vec<String> {
    // Inline code is no link: drop every `…` span.
    let prose: String = text
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join(" ");
    let mut targets = Vec::new();
    for (at, _) in prose.match_indices("](") {
        let rest = &prose[at + 2..];
        let end = rest.find(')').unwrap_or(rest.len());
        targets.push(rest[..end].trim().to_string());
    }
    for scheme in ["http://", "https://", "mailto:", "ftp://", "www."] {
        for (at, _) in prose.match_indices(scheme) {
            let rest = &prose[at..];
            let end = rest
                .find(|c: char| c.is_whitespace() || ")>]".contains(c))
                .unwrap_or(rest.len());
            let target = rest[..end].to_string();
            // A Markdown link's target was found above.
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
    }
    targets
}

/// The README and docs/ link only inside the repository, to files that exist.
#[test]
fn the_readme_and_docs_link_only_inside_the_repository() {
    let root = repository();
    let mut documents = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            documents.push(path);
        }
    }
    let mut bad = Vec::new();
    for document in &documents {
        let text = std::fs::read_to_string(document).unwrap();
        let mut in_code = false;
        for (index, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if in_code {
                continue;
            }
            for target in link_targets(line) {
                let path = target.split('#').next().unwrap_or_default();
                let inside = !target.contains("://")
                    && !target.starts_with("//")
                    && !target.starts_with("mailto:")
                    && !target.starts_with("www.")
                    && (path.is_empty() || document.parent().unwrap().join(path).exists());
                if !inside {
                    bad.push(format!(
                        "{}:{}: {target}",
                        document.strip_prefix(&root).unwrap_or(document).display(),
                        index + 1
                    ));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "links outside the repository (or to files it lacks):\n{}",
        bad.join("\n")
    );
}

#[test]
fn link_targets_find_links_outside_code() {
    assert_eq!(
        link_targets("see [a](docs/a.md) and <https://x.example/y> or `http://in.code`"),
        ["docs/a.md", "https://x.example/y"]
    );
    assert!(link_targets("`[a](http://x)` only code").is_empty());
    assert_eq!(link_targets("[a](http://x.example)"), ["http://x.example"]);
}

#[test]
fn the_walk_is_read_from_fenced_blocks() {
    let readme =
        "intro\n```sh walk-server\nROSTER_ADMIN_TOKEN=t cargo run --release -- serve\n```\n\
                  ```sh\nnot walked\n```\n```sh walk\necho one\n```\n";
    let walk = the_walk(readme);
    assert_eq!(
        walk.server_env,
        [("ROSTER_ADMIN_TOKEN".to_string(), "t".to_string())]
    );
    assert_eq!(walk.blocks.len(), 1);
    assert_eq!(walk.blocks[0].line, 9);
    assert_eq!(walk.blocks[0].text, "echo one\n");
}
