//! Passwords: the policy check (zxcvbn) and Argon2id hashing and verifying,
//! all off the async workers on a fixed pool of threads with a bounded
//! queue, so memory stays bounded (each Argon2id run takes 19 MiB) and a
//! burst is refused fast rather than queued without end.

use std::sync::mpsc::TrySendError;
use std::sync::Arc;

use roster_core::secret::{self, Password};

use crate::error::{AppError, AppResult};

/// A password a client wants to set, and the field it came in (for the
/// error). Its `Debug` is redacted.
#[derive(Clone)]
pub struct NewPassword {
    pub value: String,
    pub field: String,
}

impl NewPassword {
    /// The password in `field` (`"password"` on most surfaces).
    pub fn new(value: impl Into<String>, field: impl Into<String>) -> NewPassword {
        NewPassword {
            value: value.into(),
            field: field.into(),
        }
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPassword")
            .field("value", &"<redacted>")
            .field("field", &self.field)
            .finish()
    }
}

/// How many password jobs run at once and how many may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    /// Threads that check, hash and verify (each Argon2id run holds 19 MiB).
    pub workers: usize,
    /// Jobs that may wait for a worker; past that a job is refused at once.
    pub queue: usize,
}

impl PoolSize {
    /// Jobs that may wait per worker, by default: with Argon2id at tens of
    /// milliseconds a job, a queued sign-in is answered within a second.
    pub const QUEUE_PER_WORKER: usize = 16;

    /// `workers` threads and the default queue for them.
    pub fn for_workers(workers: usize) -> PoolSize {
        PoolSize {
            workers,
            queue: workers * Self::QUEUE_PER_WORKER,
        }
    }
}

impl Default for PoolSize {
    /// One worker per core.
    fn default() -> Self {
        PoolSize::for_workers(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The bounded pool that checks, hashes and verifies passwords: a fixed set
/// of threads behind a bounded queue. A job that finds the queue full is
/// refused at once (503 with `Retry-After`), so a burst of sign-ins is
/// answered fast instead of piling up, and memory stays at `workers` × 19
/// MiB (fixed threads also keep the allocator's per-thread arenas few).
///
/// Written by hand because no well-kept crate offers a blocking pool with
/// a bounded queue that refuses rather than waits; it is a `sync_channel`
/// and a few threads.
#[derive(Clone)]
pub(crate) struct Passwords {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

impl Passwords {
    pub(crate) fn new(size: PoolSize) -> Passwords {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(size.queue);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..size.workers.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("roster-passwords-{i}"))
                .spawn(move || {
                    // Each worker hashes in the same 19 MiB every time.
                    secret::keep_argon2_memory();
                    loop {
                        // The lock is held only while taking a job, not running it.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            // Every sender is gone: the application was dropped.
                            Err(_) => return,
                        }
                    }
                })
                .expect("the password pool's threads start");
        }
        Passwords { jobs }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> AppResult<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A caller that gave up (its request timed out) needs no answer.
            if !answer.is_closed() {
                let _ = answer.send(work());
            }
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(AppError::Busy {
                    what: "password checks",
                    retry_after: 1,
                })
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(AppError::Internal("the password pool stopped".into()))
            }
        }
        answered
            .await
            .map_err(|_| AppError::Internal("a password job failed".into()))
    }

    /// Checks `password` against the policy (the user's own words in
    /// `context` must not carry it) and hashes it with Argon2id.
    pub(crate) async fn hash_new(
        &self,
        password: NewPassword,
        context: Vec<String>,
    ) -> AppResult<String> {
        let NewPassword { value, field } = password;
        let outcome = self
            .run(move || {
                let context: Vec<&str> = context.iter().map(String::as_str).collect();
                Password::parse(&value, &context).map(|p| secret::hash_password(&p))
            })
            .await?;
        outcome.map_err(|message| AppError::field(field, message))
    }

    /// Whether `candidate` matches the stored hash, in constant time; an
    /// unknown user (`None`) is checked against a dummy hash so both take
    /// the same time.
    /// Roster's Argon2id of a password that just signed in against an
    /// imported hash, on the pool.
    pub(crate) async fn rehash(&self, candidate: &str) -> AppResult<String> {
        let candidate = Password::candidate(candidate);
        self.run(move || secret::rehash(&candidate)).await
    }

    pub(crate) async fn matches(&self, stored: Option<String>, candidate: &str) -> AppResult<bool> {
        let candidate = Password::candidate(candidate);
        self.run(move || secret::verify_password(stored.as_deref(), &candidate))
            .await
    }
}

/// The user's own words a password must not lean on.
pub(crate) fn context_of(profile: &roster_core::Profile) -> Vec<String> {
    [
        &profile.email,
        &profile.first_name,
        &profile.last_name,
        &profile.name,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect()
}
