//! Group commit for writes of one kind: concurrent calls queue their
//! items, and whoever gets a turn runs every item queued so far (up to a
//! bound) as one batch, so a burst of creations shares one transaction, one
//! set of multi-row statements and one commit.
//!
//! Written here rather than taken from a crate: the batching crates on
//! crates.io run a background task per batcher, which would have to own the
//! store that owns the batcher; this is a queue, a semaphore of turns and
//! `tokio::spawn`.
//!
//! No one waits for company: an item that finds a turn free runs at once,
//! alone, so a quiet server adds no latency. Only while every turn is busy
//! do items gather, and the next turn takes all of them.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, Semaphore};

/// An item waiting in a batch, with where its outcome goes.
pub(crate) struct Waiting<T, R> {
    pub(crate) item: T,
    pub(crate) reply: oneshot::Sender<R>,
}

/// How many batches ran and how many items they held, since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub batches: u64,
    pub items: u64,
}

/// A user's creation waiting for its batch (`UserStore::create_user`).
pub(crate) struct UserCreation {
    pub(crate) tenant: String,
    pub(crate) new: roster_core::NewUser,
    pub(crate) actor: roster_core::Actor,
}

/// The queue of user creations.
pub(crate) type UserCreations = Batches<UserCreation, crate::Result<roster_core::User>>;

/// The queue of one kind of write.
pub(crate) struct Batches<T, R> {
    queue: Mutex<Queue<T, R>>,
    turns: Arc<Semaphore>,
    max: usize,
    batches: AtomicU64,
    items: AtomicU64,
}

struct Queue<T, R> {
    next: u64,
    waiting: VecDeque<(u64, Waiting<T, R>)>,
}

impl<T: Send + 'static, R: Send + 'static> Batches<T, R> {
    /// `turns` batches may run at once, each of at most `max` items.
    pub(crate) fn new(turns: usize, max: usize) -> Self {
        Batches {
            queue: Mutex::new(Queue {
                next: 0,
                waiting: VecDeque::new(),
            }),
            turns: Arc::new(Semaphore::new(turns.max(1))),
            max: max.max(1),
            batches: AtomicU64::new(0),
            items: AtomicU64::new(0),
        }
    }

    pub(crate) fn counts(&self) -> BatchCounts {
        BatchCounts {
            batches: self.batches.load(Ordering::Relaxed),
            items: self.items.load(Ordering::Relaxed),
        }
    }

    /// Queues `item` and takes turns running batches (`execute`, which
    /// answers every item of the batch it is given) until a batch has taken
    /// it; its outcome, or `None` when its batch's task panicked.
    ///
    /// A batch runs on a task of its own, so a caller that stops waiting
    /// (a request timeout, a client gone) cannot cut a batch short and
    /// leave its neighbours without an answer; a caller that stops while
    /// its item is still queued takes the item out of the queue.
    pub(crate) async fn submit<F, Fut>(&self, item: T, execute: F) -> Option<R>
    where
        F: Fn(Vec<Waiting<T, R>>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let id = {
            let mut queue = self.lock();
            let id = queue.next;
            queue.next += 1;
            queue.waiting.push_back((id, Waiting { item, reply }));
            id
        };
        let queued = Queued { batches: self, id };
        loop {
            let turn = self.turns.clone().acquire_owned().await.ok()?;
            let batch: Vec<Waiting<T, R>> = {
                let mut queue = self.lock();
                if !queue.waiting.iter().any(|(queued, _)| *queued == id) {
                    break;
                }
                let n = queue.waiting.len().min(self.max);
                queue.waiting.drain(..n).map(|(_, w)| w).collect()
            };
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.items.fetch_add(batch.len() as u64, Ordering::Relaxed);
            let run = execute(batch);
            // A panic drops the batch's replies, which answers its items.
            let _ = tokio::spawn(async move {
                run.await;
                drop(turn);
            })
            .await;
        }
        drop(queued);
        answer.await.ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<T, R>> {
        // The queue is left consistent at every point a panic could occur.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An item in the queue: taken out again if its caller stops waiting
/// before a batch took it.
struct Queued<'a, T: Send + 'static, R: Send + 'static> {
    batches: &'a Batches<T, R>,
    id: u64,
}

impl<T: Send + 'static, R: Send + 'static> Drop for Queued<'_, T, R> {
    fn drop(&mut self) {
        let mut queue = self.batches.lock();
        queue.waiting.retain(|(queued, _)| *queued != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Items queued while every turn is busy run together in the next
    /// batch, each answered with its own outcome.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn items_queued_behind_a_busy_turn_share_the_next_batch() {
        let batches = Arc::new(Batches::<u32, (u32, usize)>::new(1, 64));
        let execute = |batch: Vec<Waiting<u32, (u32, usize)>>| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let size = batch.len();
            for w in batch {
                let _ = w.reply.send((w.item * 2, size));
            }
        };
        let calls: Vec<_> = (0..20)
            .map(|i| {
                let batches = batches.clone();
                tokio::spawn(async move { batches.submit(i, execute).await })
            })
            .collect();
        let mut sizes = Vec::new();
        for (i, call) in calls.into_iter().enumerate() {
            let (doubled, size) = call.await.unwrap().expect("answered");
            assert_eq!(doubled, i as u32 * 2);
            sizes.push(size);
        }
        let counts = batches.counts();
        assert_eq!(counts.items, 20);
        assert!(counts.batches < 20, "{counts:?}");
        assert!(sizes.iter().any(|&s| s > 1), "{sizes:?}");
    }

    /// A batch never holds more than its bound.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_holds_at_most_its_bound() {
        let batches = Arc::new(Batches::<u32, usize>::new(1, 3));
        let execute = |batch: Vec<Waiting<u32, usize>>| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let size = batch.len();
            for w in batch {
                let _ = w.reply.send(size);
            }
        };
        let calls: Vec<_> = (0..12)
            .map(|i| {
                let batches = batches.clone();
                tokio::spawn(async move { batches.submit(i, execute).await })
            })
            .collect();
        for call in calls {
            assert!(call.await.unwrap().expect("answered") <= 3);
        }
    }

    /// A caller that stops waiting while its item is queued takes it out:
    /// the item never runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_item_leaves_the_queue() {
        let batches = Arc::new(Batches::<u32, ()>::new(1, 64));
        let ran = Arc::new(Mutex::new(Vec::new()));
        let execute = {
            let ran = ran.clone();
            move |batch: Vec<Waiting<u32, ()>>| {
                let ran = ran.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    for w in batch {
                        ran.lock().unwrap().push(w.item);
                        let _ = w.reply.send(());
                    }
                }
            }
        };
        let first = {
            let batches = batches.clone();
            let execute = execute.clone();
            tokio::spawn(async move { batches.submit(1, execute).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let abandoned = {
            let batches = batches.clone();
            let execute = execute.clone();
            tokio::spawn(async move { batches.submit(2, execute).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        abandoned.abort();
        assert!(abandoned.await.is_err());
        first.await.unwrap().expect("answered");
        assert_eq!(batches.submit(3, execute).await, Some(()));
        assert_eq!(*ran.lock().unwrap(), vec![1, 3]);
    }

    /// A batch whose task panics answers its items with `None`, and the
    /// turn it held is free again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_batch_answers_none_and_frees_its_turn() {
        let batches = Batches::<u32, u32>::new(1, 64);
        let panics = |_batch: Vec<Waiting<u32, u32>>| async move { panic!("a failing batch") };
        assert_eq!(batches.submit(1, panics).await, None);
        let answers = |batch: Vec<Waiting<u32, u32>>| async move {
            for w in batch {
                let _ = w.reply.send(w.item);
            }
        };
        assert_eq!(batches.submit(7, answers).await, Some(7));
    }
}
