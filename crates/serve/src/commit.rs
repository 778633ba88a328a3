//! Group commit: one thread owns the [`Store`]; request handlers hand it batches and wait.
//!
//! Every batch waiting when the thread wakes is appended in one go and fsynced once, so a busy
//! server pays one fsync per round, not per request. A handler learns its batch is durable
//! only after that fsync. The queue is bounded in events: past it, [`Committer::submit`]
//! refuses and the client gets HEC's "server is busy" (503) instead of memory growing.

use crate::store::{Store, StoredEvent};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Batches appended in one round at most (bounds one round's latency).
const MAX_BATCHES_PER_ROUND: usize = 4096;

struct Batch {
    events: Vec<StoredEvent>,
    done: oneshot::Sender<Result<(), String>>,
}

/// Counters shared with the HTTP side.
#[derive(Default)]
pub struct CommitStats {
    /// Events waiting for the commit thread.
    pub queued: AtomicUsize,
    /// Events durably stored since start.
    pub stored: AtomicU64,
    /// Rounds (fsyncs of the written segments).
    pub rounds: AtomicU64,
}

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Batch>,
    max_queued: usize,
    pub stats: Arc<CommitStats>,
}

/// The queue is full.
#[derive(Debug)]
pub struct Busy;

impl Committer {
    /// Starts the commit thread over `store`, accepting up to `max_queued` waiting events.
    pub fn start(mut store: Store, max_queued: usize) -> std::io::Result<Committer> {
        let (tx, rx) = mpsc::channel::<Batch>();
        let stats = Arc::new(CommitStats::default());
        let st = stats.clone();
        std::thread::Builder::new()
            .name("vigil-commit".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut round = vec![first];
                    while round.len() < MAX_BATCHES_PER_ROUND {
                        match rx.try_recv() {
                            Ok(b) => round.push(b),
                            Err(_) => break,
                        }
                    }
                    let events: Vec<StoredEvent> = round
                        .iter_mut()
                        .flat_map(|b| std::mem::take(&mut b.events))
                        .collect();
                    let result = store.append(&events).map_err(|e| {
                        format!("cannot store events under {}: {e}", store.root().display())
                    });
                    if let Err(e) = &result {
                        eprintln!("vigil serve: {e}");
                    } else {
                        st.stored.fetch_add(events.len() as u64, Ordering::Relaxed);
                    }
                    st.rounds.fetch_add(1, Ordering::Relaxed);
                    st.queued.fetch_sub(events.len(), Ordering::Relaxed);
                    for b in round {
                        let _ = b.done.send(result.clone());
                    }
                }
            })?;
        Ok(Committer {
            tx,
            max_queued,
            stats,
        })
    }

    /// Queues `events`; the receiver answers once they are durable (or could not be stored).
    pub fn submit(
        &self,
        events: Vec<StoredEvent>,
    ) -> Result<oneshot::Receiver<Result<(), String>>, Busy> {
        let n = events.len();
        let before = self.stats.queued.fetch_add(n, Ordering::Relaxed);
        // One oversized batch is let through an empty queue, so any accepted body can be stored.
        if before > 0 && before + n > self.max_queued {
            self.stats.queued.fetch_sub(n, Ordering::Relaxed);
            return Err(Busy);
        }
        let (done, rx) = oneshot::channel();
        if self.tx.send(Batch { events, done }).is_err() {
            self.stats.queued.fetch_sub(n, Ordering::Relaxed);
            return Err(Busy);
        }
        Ok(rx)
    }

    /// Whether new batches would be refused now.
    pub fn is_full(&self) -> bool {
        self.stats.queued.load(Ordering::Relaxed) >= self.max_queued
    }
}
