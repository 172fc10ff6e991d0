//! `roster import` and `roster export` (SPEC §8 "Import and export"):
//! users in and out as JSON lines or CSV, streamed (a batch of lines in
//! memory at a time, written in one transaction), through the application's
//! import service, so every rule of the API holds.

use std::io::{BufRead, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use roster_app::imports::{Imported, BATCH};
use roster_app::{App, Caller, Scope};
use roster_http::v1::imports::line_from_object;
use roster_http::v1::users::UserView;
use serde_json::{Map, Value};

/// The format of a file: JSON lines, or CSV with a header row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    /// By extension: `.csv` is CSV, anything else (and `-`) JSON lines.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("csv") => Format::Csv,
            _ => Format::Jsonl,
        }
    }
}

/// How an import went.
#[derive(Debug, Default)]
pub struct Summary {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

/// One record read from the file: its line number, the object, and its
/// text (for the rejects file).
struct Record {
    line: u64,
    object: Result<Map<String, Value>, String>,
    text: String,
}

/// A CSV cell as a JSON value: empty is absent, `[...]`/`{...}` is JSON
/// (store ids, roles, a Keycloak credential), anything else text.
fn cell(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        if let Ok(value) = serde_json::from_str(trimmed) {
            return Some(value);
        }
    }
    Some(Value::String(text.to_string()))
}

/// Reads records one at a time from JSON lines or CSV.
fn records(input: Box<dyn Read + Send>, format: Format) -> Box<dyn Iterator<Item = Record> + Send> {
    match format {
        Format::Jsonl => {
            let lines = std::io::BufReader::new(input).lines();
            Box::new(lines.enumerate().filter_map(|(i, line)| {
                let line_number = i as u64 + 1;
                match line {
                    Ok(text) if text.trim().is_empty() => None,
                    Ok(text) => {
                        let object = match serde_json::from_str::<Value>(&text) {
                            Ok(Value::Object(object)) => Ok(object),
                            Ok(_) => Err("line: must be a JSON object".to_string()),
                            Err(e) => Err(format!("line: is not valid JSON: {e}")),
                        };
                        Some(Record {
                            line: line_number,
                            object,
                            text,
                        })
                    }
                    Err(e) => Some(Record {
                        line: line_number,
                        object: Err(format!("line: cannot be read: {e}")),
                        text: String::new(),
                    }),
                }
            }))
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
            let headers = match reader.headers() {
                Ok(headers) => headers.clone(),
                Err(e) => {
                    return Box::new(std::iter::once(Record {
                        line: 1,
                        object: Err(format!("header: cannot be read: {e}")),
                        text: String::new(),
                    }))
                }
            };
            Box::new(reader.into_records().map(move |row| match row {
                Ok(row) => {
                    let line = row.position().map_or(0, |p| p.line());
                    let object = headers
                        .iter()
                        .zip(row.iter())
                        .filter_map(|(name, value)| cell(value).map(|v| (name.to_string(), v)))
                        .collect();
                    let text = row.iter().collect::<Vec<_>>().join(",");
                    Record {
                        line,
                        object: Ok(object),
                        text,
                    }
                }
                Err(e) => Record {
                    line: e.position().map_or(0, |p| p.line()),
                    object: Err(format!("line: is not valid CSV: {e}")),
                    text: String::new(),
                },
            }))
        }
    }
}

fn report(problems: Vec<(String, String)>) -> Vec<String> {
    problems
        .into_iter()
        .map(|(field, reason)| format!("{field}: {reason}"))
        .collect()
}

/// Progress on the terminal (a bar with rate and ETA) or, when the output
/// is not one, a plain line every few seconds.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    fn new(total_bytes: Option<u64>) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total_bytes {
                Some(total) => indicatif::ProgressBar::new(total),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} (ETA {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    fn tick(&mut self, bytes: u64, lines: u64) {
        let rate = lines as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        match &self.bar {
            Some(bar) => {
                bar.set_position(bytes);
                bar.set_message(format!("{lines} lines, {rate:.0}/s"));
            }
            None if self.last_line.elapsed() >= Duration::from_secs(5) => {
                eprintln!("import: {lines} lines read, {rate:.0} lines/s");
                self.last_line = Instant::now();
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Counts the bytes read, for the progress bar.
struct Counted<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// The admin's scope in `tenant` (the command line is the operator).
async fn operator(app: &App, tenant: &str) -> anyhow::Result<Scope> {
    app.enter(&Caller::Admin, tenant)
        .await
        .map_err(|e| anyhow::anyhow!("tenant {tenant:?}: {e}"))
}

/// Imports `path` (`-`: standard input) into `tenant`; each refused line
/// is reported as `line <n>: <field>: <reason>` on standard output (and
/// written as it was to `rejects`, when given).
pub async fn import(
    app: &App,
    tenant: &str,
    path: &Path,
    format: Option<Format>,
    dry_run: bool,
    rejects: Option<&PathBuf>,
) -> anyhow::Result<Summary> {
    let scope = operator(app, tenant).await?;
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (input, total): (Box<dyn Read + Send>, Option<u64>) = if path == Path::new("-") {
        (Box::new(std::io::stdin()), None)
    } else {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let total = file.metadata().ok().map(|m| m.len());
        (Box::new(file), total)
    };
    let format = format.unwrap_or_else(|| Format::of(path));
    let input = Box::new(Counted {
        inner: input,
        read: read.clone(),
    });
    let mut rejects = rejects
        .map(|path| {
            std::fs::File::create(path)
                .map(BufWriter::new)
                .with_context(|| format!("cannot create {}", path.display()))
        })
        .transpose()?;
    let mut summary = Summary::default();
    let mut progress = Progress::new(total);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // Lines are read and parsed on a thread of their own, a batch ahead of
    // the one being written (two batches in memory at most).
    let (sender, mut receiver) = tokio::sync::mpsc::channel(1);
    let reader = std::thread::spawn(move || {
        let mut records = records(input, format);
        loop {
            let mut batch = Vec::with_capacity(BATCH);
            let mut texts = std::collections::HashMap::new();
            for record in records.by_ref().take(BATCH) {
                let line = record.line as i64;
                let parsed = match record.object {
                    Err(reason) => {
                        let (field, reason) = reason.split_once(": ").unwrap_or(("line", &reason));
                        Err(vec![(field.to_string(), reason.to_string())])
                    }
                    Ok(object) => line_from_object(object),
                };
                texts.insert(line, record.text);
                batch.push((line, parsed));
            }
            if batch.is_empty() || sender.blocking_send((batch, texts)).is_err() {
                break;
            }
        }
    });
    let mut lines = 0;
    let mut batches = 0;
    while let Some((batch, mut texts)) = receiver.recv().await {
        lines += batch.len() as u64;
        let outcomes = app
            .imports()
            .batch(&scope, batch, dry_run)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        batches += 1;
        app.imports()
            .after_batch(&scope, batches, dry_run)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (line, outcome) in outcomes {
            match outcome {
                Ok(Imported::Created) => summary.created += 1,
                Ok(Imported::Updated) => summary.updated += 1,
                Ok(Imported::Unchanged) => summary.unchanged += 1,
                Err(problems) => {
                    summary.rejected += 1;
                    for problem in report(problems) {
                        writeln!(out, "line {line}: {problem}")?;
                    }
                    if let Some(rejects) = rejects.as_mut() {
                        writeln!(rejects, "{}", texts.remove(&line).unwrap_or_default())?;
                    }
                }
            }
        }
        progress.tick(read.load(std::sync::atomic::Ordering::Relaxed), lines);
    }
    drop(receiver);
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("the thread reading the file failed"))?;
    progress.finish();
    if let Some(mut rejects) = rejects {
        rejects.flush()?;
    }
    writeln!(
        out,
        "{}created {}, updated {}, unchanged {}, rejected {}",
        if dry_run {
            "dry run (nothing written): "
        } else {
            ""
        },
        summary.created,
        summary.updated,
        summary.unchanged,
        summary.rejected
    )?;
    Ok(summary)
}

/// Writes every user of `tenant` to standard output, oldest first.
pub async fn export(
    app: &App,
    tenant: &str,
    format: Format,
    with_hashes: bool,
) -> anyhow::Result<u64> {
    let scope = operator(app, tenant).await?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    // CSV columns: every field of a `/v1` user, as the first one has them.
    let mut columns: Option<Vec<String>> = None;
    let mut after = None;
    let mut written = 0;
    loop {
        let page = roster_app::input::Page { limit: 500, after };
        let listed = app
            .users()
            .list(
                &scope,
                roster_app::users::Right::Users,
                &roster_app::input::UserFilter::default(),
                &page,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let ids: Vec<_> = listed.items.iter().map(|u| u.id).collect();
        let mut contacts = std::collections::HashMap::<_, Vec<Value>>::new();
        for contact in app
            .imports()
            .contacts_of(&scope, &ids)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
        {
            if contact.is_active {
                contacts
                    .entry(contact.user_id)
                    .or_default()
                    .push(serde_json::json!({
                        "contact_type": contact.contact_type,
                        "value": contact.value,
                        "is_primary": contact.is_primary,
                    }));
            }
        }
        for user in listed.items {
            let user_contacts = contacts.remove(&user.id).unwrap_or_default();
            let hash = if with_hashes {
                app.imports()
                    .password_hash_of(&scope, user.id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?
            } else {
                None
            };
            let mut object = match serde_json::to_value(UserView::from(user))? {
                Value::Object(object) => object,
                _ => Map::new(),
            };
            object.insert("contacts".into(), Value::Array(user_contacts));
            if with_hashes {
                object.insert(
                    "password_hash".into(),
                    hash.map_or(Value::Null, Value::String),
                );
            }
            if format == Format::Csv {
                let columns = columns.get_or_insert_with(|| object.keys().cloned().collect());
                let mut writer = csv::Writer::from_writer(Vec::new());
                if written == 0 {
                    writer.write_record(columns.iter())?;
                }
                let row: Vec<String> = columns
                    .iter()
                    .map(|c| match object.get(c) {
                        None | Some(Value::Null) => String::new(),
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                    })
                    .collect();
                writer.write_record(&row)?;
                out.write_all(&writer.into_inner()?)?;
            } else {
                serde_json::to_writer(&mut out, &Value::Object(object))?;
                out.write_all(b"\n")?;
            }
            written += 1;
        }
        match listed.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    out.flush()?;
    Ok(written)
}
