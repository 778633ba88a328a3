//! Group commit: one thread owns the [`Sink`] (the [`Store`] on a single node, a Kafka producer
//! in a cluster's ingest role); request handlers hand it batches and wait.
//!
//! Every batch waiting when the thread wakes is appended in one go and fsynced once, so a busy
//! server pays one fsync per round, not per request. A handler learns its batch is durable
//! only after that fsync. The queue is bounded in events: past it, [`Committer::submit`]
//! refuses and the client gets HEC's "server is busy" (503) instead of memory growing.

use crate::store::{Store, StoredEvent};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use vigil_model::Micros;

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

/// Where committed batches go. `append` returns only once the events are durable (fsynced,
/// or acknowledged by every in-sync replica), so an answer or ackId true follows durability.
pub trait Sink: Send + 'static {
    fn append(&mut self, events: &[StoredEvent], now: Micros) -> Result<(), String>;
    /// Called between rounds, at most once a second (the store seals idle partitions).
    fn idle(&mut self, _now: Micros) {}
    /// Names the sink in messages.
    fn describe(&self) -> String;
}

impl Sink for Store {
    fn append(&mut self, events: &[StoredEvent], now: Micros) -> Result<(), String> {
        Store::append(self, events, now).map_err(|e| format!("cannot store events under {}: {e}", self.root().display()))
    }

    fn describe(&self) -> String {
        format!("store {}", self.root().display())
    }
}

/// The store as a sink that also seals partitions idle for `seal_idle` micros and applies
/// retention.
struct SealingStore {
    store: Store,
    seal_idle: Micros,
}

impl Sink for SealingStore {
    fn append(&mut self, events: &[StoredEvent], now: Micros) -> Result<(), String> {
        Sink::append(&mut self.store, events, now)
    }

    fn idle(&mut self, now: Micros) {
        let sealed = self.store.seal_idle(now, self.seal_idle).unwrap_or_else(|e| {
            eprintln!("vigil serve: cannot seal a store segment under {}: {e}", self.store.root().display());
            0
        });
        self.store.apply_retention(now, sealed > 0);
    }

    fn describe(&self) -> String {
        self.store.describe()
    }
}

impl Committer {
    /// Starts the commit thread over `store`, accepting up to `max_queued` waiting events.
    /// Between rounds (at most once a second) it seals partitions idle for `seal_idle`
    /// micros by `clock`.
    /// Compression of sealed segments runs on its own thread: an acknowledgement never waits
    /// for it.
    pub fn start(mut store: Store, max_queued: usize, clock: Clock, seal_idle: Micros) -> std::io::Result<Committer> {
        store.compress_in_background()?;
        // Checked once a second, or every round when segments are to be sealed at once.
        let every = Duration::from_micros(seal_idle.clamp(0, 1_000_000) as u64);
        Committer::start_sink(Box::new(SealingStore { store, seal_idle }), max_queued, clock, every)
    }

    /// Starts the commit thread over any sink; its `idle` is called every `idle_every`.
    pub fn start_sink(sink: Box<dyn Sink>, max_queued: usize, clock: Clock, idle_every: Duration) -> std::io::Result<Committer> {
        let (tx, rx) = mpsc::channel::<Batch>();
        let stats = Arc::new(CommitStats::default());
        let st = stats.clone();
        std::thread::Builder::new().name("vigil-commit".into()).spawn(move || commit_loop(sink, rx, &st, clock, idle_every))?;
        Ok(Committer { tx, max_queued, stats })
    }

    /// Queues `events`; the receiver answers once they are durable (or could not be stored).
    pub fn submit(&self, events: Vec<StoredEvent>) -> Result<oneshot::Receiver<Result<(), String>>, Busy> {
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

    /// Waits until every batch queued before this call is durable (on shutdown: events whose
    /// ackId was handed out are stored before the process exits).
    pub fn flush(&self) -> Result<(), String> {
        let (done, rx) = oneshot::channel();
        self.tx.send(Batch { events: Vec::new(), done }).map_err(|_| "the commit thread has stopped".to_string())?;
        rx.blocking_recv().map_err(|_| "the commit thread has stopped".to_string())?
    }

    /// Whether new batches would be refused now.
    pub fn is_full(&self) -> bool {
        self.stats.queued.load(Ordering::Relaxed) >= self.max_queued
    }
}

/// The server's clock, in micros.
pub type Clock = Arc<dyn Fn() -> Micros + Send + Sync>;

fn commit_loop(mut sink: Box<dyn Sink>, rx: mpsc::Receiver<Batch>, st: &CommitStats, clock: Clock, every: Duration) {
    let mut last_idle = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(first) => commit_round(sink.as_mut(), first, &rx, st, clock()),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        if last_idle.elapsed() >= every {
            last_idle = Instant::now();
            sink.idle(clock());
        }
    }
}

/// Appends `first` and every batch already waiting, fsyncs once, answers them all.
fn commit_round(sink: &mut dyn Sink, first: Batch, rx: &mpsc::Receiver<Batch>, st: &CommitStats, now: Micros) {
    let mut round = vec![first];
    while round.len() < MAX_BATCHES_PER_ROUND {
        match rx.try_recv() {
            Ok(b) => round.push(b),
            Err(_) => break,
        }
    }
    let events: Vec<StoredEvent> = round.iter_mut().flat_map(|b| std::mem::take(&mut b.events)).collect();
    let result = sink.append(&events, now);
    match &result {
        Err(e) => eprintln!("vigil serve: {e}"),
        Ok(()) => {
            st.stored.fetch_add(events.len() as u64, Ordering::Relaxed);
        }
    }
    st.rounds.fetch_add(1, Ordering::Relaxed);
    st.queued.fetch_sub(events.len(), Ordering::Relaxed);
    for b in round {
        let _ = b.done.send(result.clone());
    }
}
